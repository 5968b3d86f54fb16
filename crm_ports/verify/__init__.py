"""`crm-ports verify` and `crm-ports why`: the synthesized stacks evaluated the way each
cloud evaluates them, compared with what the catalogue asks for.

Two sides that never meet except in `compare`: `expected` (catalogue + lab -> the flows
per pair of host groups and peers) and the evaluators (`aws`, `azure`), which read only a
stack's `cdk.tf.json`. A renderer bug therefore cannot hide behind the RuleSet it rendered.
"""
