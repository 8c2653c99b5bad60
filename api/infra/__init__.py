"""Infrastructure: settings, the database engine, migrations."""
