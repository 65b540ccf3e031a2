-- QuotaService.reserve: reserve.lua (prepended) with the script's own KEYS and ARGV.
return reserve(KEYS, ARGV)
