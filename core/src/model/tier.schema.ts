import { z } from 'zod';

export const TierSchema = z.enum(['free', 'pro', 'admin']);
