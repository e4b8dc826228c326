"""WhatsApp Cloud API on AWS: the code shared by the webhook, processor and sender functions."""
