"""The bulletin's printed provider differences, shared by the synth tests (not a test module)."""

# ../shared/reference/significant_differences.csv: (factor, measure) -> (NPS rate, CRC rate)
PRINTED_PROVIDER_DIFFERENCES = {
    ("relationships", "availability"): (0.89, 0.81),
    ("accommodation", "delivery"): (0.74, 0.54),
    ("emotional_wellbeing", "delivery"): (0.56, 0.44),
    ("education_training_employment", "contracted"): (0.91, 0.59),
    ("education_training_employment", "partner"): (0.82, 0.54),
    ("attitudes_to_offending", "partner"): (0.61, 0.41),
}
