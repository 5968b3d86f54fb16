"""Lab stacks: one TerraformStack per cloud and lab, deployable with no inputs."""
