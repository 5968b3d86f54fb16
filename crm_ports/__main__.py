"""`python -m crm_ports` runs the same command line as the `crm-ports` console script."""

from crm_ports.cli import main

if __name__ == "__main__":
    main()
