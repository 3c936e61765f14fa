"""Domain services and entities. Nothing here imports aiogram."""
