"""The agent's network side: REST client, uploader, presence push, live socket, credentials. No Qt here."""
