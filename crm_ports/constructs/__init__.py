"""CDKTF constructs that render crm-ports rule sets as Terraform."""
