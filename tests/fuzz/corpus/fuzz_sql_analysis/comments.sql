/* a /* nested */ comment */ SET a.b = 1 -- trailing
; select '--'; set c.d = 2