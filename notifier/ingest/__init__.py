"""Reading the blog into the store: polls, crawls, storing sightings with their outbox rows, alerts."""
