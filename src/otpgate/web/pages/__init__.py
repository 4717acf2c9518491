"""Page routers, one module per area: login, account, security, admin, setup."""
