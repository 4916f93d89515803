"""The DCI (SPDCI) registry server: SRSP answers other systems as a Social Registry and as an ID & Beneficiary
Registry, to registered senders only (see operations.py for what is served and auth.py for who may ask)."""
