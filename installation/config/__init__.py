"""Configuration: the strict base every section schema builds on, and the show file.

`base` is all a subsystem's section schema imports from here; `show` assembles the sections
into the Show and loads show.yaml.
"""
