"""CLI commands, one module per concern; `crm_ports.cli.LazyGroup` imports them on demand."""
