"""What every room shares and which depends on no database: errors, CRS, code lists,
collection ids, bilingual texts."""
