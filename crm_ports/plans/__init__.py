"""Per-cloud plans: the pure-Python half of each renderer.

A plan says which cloud resources a RuleSet becomes (names, keys, tags, descriptions,
priorities, quotas) without touching cdktf. The constructs map a plan 1:1 onto Terraform
resources; the diff compares two plans; the audit compares a plan with what a cloud
reports. Deciding names in one place is what keeps those three in agreement.
"""
