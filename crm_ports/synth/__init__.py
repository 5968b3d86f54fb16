"""Synthesis: planned stacks (`plan`) built into a CDK app and written as `cdk.tf.json`
(`build`), shared among processes when there are many (`shards`, `worker`), and
interruptible without leaving processes or half-written output behind (`interrupts`)."""
