"""Case management: enquiries, updates, alerts, grievances, appeals."""
