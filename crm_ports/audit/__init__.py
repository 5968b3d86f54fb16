"""Audit: ask a cloud what a lab's firewall looks like and compare it with the lab's plan.

The plan (`crm_ports.plans`) is the expected state, the same object the constructs render,
so the audit never re-derives a name, tag or priority. Per cloud, `aws` / `azure` read
live state; `aws_pairing` / `azure_pairing` put it and the plan into the neutral `Item`
shape of `compare`, which pairs them and yields findings; `aws_live` / `azure_live` put
it into Terraform's shape for the policy checks (`policy`). `report` prints the
findings. Nothing here imports cdktf or jsii.
"""
