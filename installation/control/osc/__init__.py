"""OSC: parsing apart from networking (parse.py), the address space generated from the
registry (space.py), the receiver that turns packets into ControlEvents, and the server."""
