"""A lab's AWS emulator (moto, LocalStack): the lab file's `aws.endpoint_url` is the one
place that says a lab goes there, and every path (the provider, the S3 state backend,
`crm-ports audit aws`) uses it with the same test credentials. Emulators accept any
credentials; fixed dummy ones mean real ones from the environment never reach them and a
lab meant for an emulator never authenticates against a real account."""

from __future__ import annotations

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
