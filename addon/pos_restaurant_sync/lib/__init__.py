# lib/protocol.py is a byte-identical copy of agent/protocol.py: never edit it here alone.
