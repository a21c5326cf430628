"""The organisation's page (issue 15 §1): signed links in every alert, and what an organisation can do there."""
