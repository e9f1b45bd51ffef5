from hmip_cli.cli.app import main

main()
