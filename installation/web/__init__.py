"""A small HTTP/1.1 server (with websocket upgrade) that the OSCQuery service and the
kiosk's health endpoint share: one thread, one selector, bounded connections."""
