"""The decision core: pure Python, no Slack and no database imports."""
