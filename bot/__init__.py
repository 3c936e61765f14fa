"""WhatToWatch Telegram bot: aiogram routers, middlewares, keyboards, texts and the CLI."""
