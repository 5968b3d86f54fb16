"""What crm-ports knows of Terraform: a plan as Terraform's resources (`resources`), what
Terraform would do to go from one to another (`impact`) and what that does to the groups
servers hold (`hazards`), and the synthesized folder: its `cdk.tf.json` read back with
actual values (`stack_json`) and the `crm-ports.json` beside it, written and read in one
module (`metadata`)."""
