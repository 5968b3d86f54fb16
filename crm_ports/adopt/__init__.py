"""Adoption: a hand-built estate read from the cloud (`live`), explained by the
catalogue's flows (`infer`) and written as a lab file with its `adopt:` section
(`render`), so that crm-ports takes the live groups over instead of replacing them."""
