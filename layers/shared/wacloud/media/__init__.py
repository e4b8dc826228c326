"""The media job: a contact's media downloaded from Meta and kept in the payload bucket."""
