"""The bundle's entry point: the `possync` command (see shell.cli).

The same executable also runs the agent: the shell starts it as
`possync --agent run ...` (shell.paths.agent_command), because a bundle has no Python
interpreter to run `python -m agent.cli` with.
"""

import sys

from shell.cli import main

if __name__ == "__main__":
    sys.exit(main())
