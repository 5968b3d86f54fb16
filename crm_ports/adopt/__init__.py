"""Adoption: a hand-built estate read from the cloud (`live` for a VPC, `azure_live` for
an NSG and its ASGs), explained by the catalogue's flows (`infer`, and `azure` for what
is Azure's own) and written as a lab file with its `adopt:` or `adopt_azure:` section
(`render`), so that crm-ports takes the live groups over instead of replacing them."""
