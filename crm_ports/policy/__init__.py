"""Policy checks over a lab's rule set and its synthesized stacks: one check per module over
a shared base (checkov's layout), a registry, and the report."""
