"""What makes jazzd a service: its config file, its errors and exit statuses, its log
lines and its sd_notify messages. Imports nothing else of jazzd."""
