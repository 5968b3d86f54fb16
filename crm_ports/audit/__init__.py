"""Audit: ask a cloud what a lab's firewall looks like and compare it with the lab's plan.

The plan (`crm_ports.plans`) is the expected state, the same object the constructs render,
so the audit never re-derives a name, tag or priority. Each cloud module reads live state
into the neutral `Item` shape of `compare`, which pairs it with the plan and yields
findings; `report` prints them. Nothing here imports cdktf or jsii.
"""
