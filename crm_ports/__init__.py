"""crm-ports: the network flows of Microsoft Dynamics CRM 2013 on-premises as a reviewed
catalogue, resolved into cloud-neutral rule sets and rendered for AWS and Azure.

The top-level package stays import-light: the pure-Python core (catalogue, resolver, views)
never imports cdktf or jsii, so commands that do not synthesize never start Node.
"""

__version__ = "0.1.0"
