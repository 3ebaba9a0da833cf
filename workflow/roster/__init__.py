"""Running the roster: editing and retiring reference rows and people, the admin trail, bulk imports."""
