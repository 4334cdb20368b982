"""The QuickBooks Web Connector side: the SOAP service, its sessions, and the .qwc file."""
