"""The pull-request review: one body from diff, check and verify, split into comments a
platform accepts, and posted through the platform's REST API (`crm-ports review`)."""
