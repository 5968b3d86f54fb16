"""Lab stacks: one TerraformStack per cloud and lab, deployable with no inputs.

Importing `crm_ports.constructs` first silences jsii's Node 20 banner before cdktf loads.
"""

import crm_ports.constructs  # noqa: F401
