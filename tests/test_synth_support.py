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


# ../shared/reference/tables.csv, every row: (table, who, question, breakdown, group label,
# printed n, printed % yes, misprinted). `misprinted`: the file's note says the bulletin
# misprints the row (an n that cannot give the %, or OGRS rows summing to more than the
# total); the 30+ row of Table 1's harm focus has a note too, but only that 99/144 = 68.75%
# was printed rounded down (68.7), so it is not a misprint and is checked.
# fmt: off
BULLETIN_TABLE_ROWS = [
    (1, "contracted_providers", "harm_focus", "all", "All cases", 249, 61.0, False),
    (1, "contracted_providers", "harm_focus", "provider", "CRC", 150, 61.3, False),
    (1, "contracted_providers", "harm_focus", "provider", "NPS", 99, 60.6, False),
    (1, "contracted_providers", "harm_focus", "gender", "Male", 203, 61.1, False),
    (1, "contracted_providers", "harm_focus", "gender", "Female", 46, 60.9, False),
    (1, "contracted_providers", "harm_focus", "age_group", "Under 30", 104, 50.0, False),
    (1, "contracted_providers", "harm_focus", "age_group", "30+", 144, 68.7, False),
    (1, "contracted_providers", "harm_focus", "ethnicity", "White", 202, 61.9, False),
    (1, "contracted_providers", "harm_focus", "ethnicity", "BAME", 44, 56.8, False),
    (1, "contracted_providers", "harm_focus", "supervision", "Community sentence", 131, 58.8, False),
    (1, "contracted_providers", "harm_focus", "supervision", "Post-custody", 118, 63.6, False),
    (1, "contracted_providers", "harm_focus", "ogrs_band", "Low/Medium", 190, 61.6, False),
    (1, "contracted_providers", "harm_focus", "ogrs_band", "High/Very high", 51, 58.8, False),
    (1, "contracted_providers", "info_review", "all", "All cases", 180, 66.1, False),
    (1, "contracted_providers", "info_review", "provider", "CRC", 127, 62.2, False),
    (1, "contracted_providers", "info_review", "provider", "NPS", 53, 75.5, False),
    (1, "contracted_providers", "info_review", "gender", "Male", 144, 66.0, False),
    (1, "contracted_providers", "info_review", "gender", "Female", 36, 66.7, False),
    (1, "contracted_providers", "info_review", "age_group", "Under 30", 67, 67.2, False),
    (1, "contracted_providers", "info_review", "age_group", "30+", 113, 65.5, False),
    (1, "contracted_providers", "info_review", "ethnicity", "White", 145, 64.1, False),
    (1, "contracted_providers", "info_review", "ethnicity", "BAME", 33, 72.7, False),
    (1, "contracted_providers", "info_review", "supervision", "Community sentence", 92, 65.2, False),
    (1, "contracted_providers", "info_review", "supervision", "Post-custody", 88, 67.0, False),
    (1, "contracted_providers", "info_review", "ogrs_band", "Low/Medium", 152, 65.1, True),
    (1, "contracted_providers", "info_review", "ogrs_band", "High/Very high", 113, 66.4, True),
    (2, "partners", "harm_focus", "all", "All cases", 406, 70.7, False),
    (2, "partners", "harm_focus", "provider", "CRC", 183, 65.6, False),
    (2, "partners", "harm_focus", "provider", "NPS", 223, 74.9, False),
    (2, "partners", "harm_focus", "gender", "Male", 349, 70.5, False),
    (2, "partners", "harm_focus", "gender", "Female", 57, 71.9, False),
    (2, "partners", "harm_focus", "age_group", "Under 30", 166, 60.8, False),
    (2, "partners", "harm_focus", "age_group", "30+", 240, 77.5, False),
    (2, "partners", "harm_focus", "ethnicity", "White", 324, 71.0, False),
    (2, "partners", "harm_focus", "ethnicity", "BAME", 52, 69.3, True),
    (2, "partners", "harm_focus", "supervision", "Community sentence", 187, 72.7, False),
    (2, "partners", "harm_focus", "supervision", "Post-custody", 219, 68.9, False),
    (2, "partners", "harm_focus", "ogrs_band", "Low/Medium", 279, 70.3, True),
    (2, "partners", "harm_focus", "ogrs_band", "High/Very high", 231, 66.2, True),
    (2, "partners", "info_review", "all", "All cases", 391, 72.4, False),
    (2, "partners", "info_review", "provider", "CRC", 215, 63.6, True),
    (2, "partners", "info_review", "provider", "NPS", 176, 82.3, True),
    (2, "partners", "info_review", "gender", "Male", 325, 71.4, False),
    (2, "partners", "info_review", "gender", "Female", 66, 77.3, False),
    (2, "partners", "info_review", "age_group", "Under 30", 147, 75.5, False),
    (2, "partners", "info_review", "age_group", "30+", 244, 70.5, False),
    (2, "partners", "info_review", "ethnicity", "White", 301, 70.8, False),
    (2, "partners", "info_review", "ethnicity", "BAME", 84, 69.4, True),
    (2, "partners", "info_review", "supervision", "Community sentence", 189, 70.9, False),
    (2, "partners", "info_review", "supervision", "Post-custody", 202, 73.8, False),
    (2, "partners", "info_review", "ogrs_band", "Low/Medium", 297, 69.4, True),
    (2, "partners", "info_review", "ogrs_band", "High/Very high", 218, 70.2, True),
]
# fmt: on
