-- expect: drop-column
ALTER TABLE public.orders
    DROP COLUMN IF EXISTS coupon_code CASCADE,
    DROP COLUMN discount_cents;
