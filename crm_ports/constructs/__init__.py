"""CDKTF constructs that render crm-ports rule sets as Terraform.

Importing this package starts nothing; the first construct created starts jsii's Node
process. jsii prints a multi-line end-of-life banner on Node 20, which the project
supports; it is silenced unless the user has set the variable themselves.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
