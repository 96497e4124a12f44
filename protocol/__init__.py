"""The wire protocol shared by the agent and the server: one schema module, see ``protocol.schema``."""
