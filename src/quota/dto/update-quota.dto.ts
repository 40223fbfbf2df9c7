import { IsIn, IsInt, IsNumber, Max, Min, ValidateIf } from 'class-validator';
import type { Tier } from '../../config/configuration.js';

/** Body of `PUT /api/v1/admin/users/:id/quota`: a value sets an override, `null` clears it, absent leaves it. */
export class UpdateQuotaDto {
  @ValidateIf((_, value) => value !== null && value !== undefined) @IsIn(['free', 'standard', 'premium'])
  tier?: Tier | null;

  @ValidateIf((_, value) => value !== null && value !== undefined) @IsInt() @Min(0) @Max(10_000)
  concurrent?: number | null;

  @ValidateIf((_, value) => value !== null && value !== undefined) @IsInt() @Min(0) @Max(1_000_000)
  daily?: number | null;

  @ValidateIf((_, value) => value !== null && value !== undefined) @IsInt() @Min(0) @Max(100_000)
  queued?: number | null;

  @ValidateIf((_, value) => value !== null && value !== undefined) @IsInt() @Min(1) @Max(7 * 24 * 3600)
  maxRunSeconds?: number | null;

  /** Dollars the user's runs may spend per UTC day. */
  @ValidateIf((_, value) => value !== null && value !== undefined) @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1_000_000)
  dailyBudgetUsd?: number | null;
}
