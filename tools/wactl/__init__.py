"""wactl: operator tools for the WhatsApp pipeline, locally or against a deployed stack."""
