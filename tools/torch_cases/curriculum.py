"""The curriculum ops (format of curriculum_cases.json): not generated yet."""
