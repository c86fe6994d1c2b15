"""The database: the connection (SQLite or PostgreSQL), the Peewee models and the migrations.

May import only core."""
