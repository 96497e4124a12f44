"""Manual check on a managed machine: ``python -m agent.policy`` prints the policy this machine applies
(the deployment key only as set or not), and logs a warning for each value it ignores."""

import logging
import sys

from agent.policy import load_policy, select_source

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
policy = load_policy()
print(f"{select_source(sys.platform).where}: {policy} (EnrollToken {'set' if policy.enroll_token else 'not set'})")
