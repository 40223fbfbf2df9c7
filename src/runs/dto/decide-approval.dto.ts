import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { MultiLineText } from '../../common/text-input.js';

export const APPROVAL_DECISIONS = ['allow', 'deny'] as const;
export type ApprovalDecisionValue = (typeof APPROVAL_DECISIONS)[number];

/** Body of `POST /api/v1/runs/:id/approvals/:approvalId`. */
export class DecideApprovalDto {
  /** `allow` lets the tool call run; `deny` refuses it and the agent goes on without it. */
  @IsIn(APPROVAL_DECISIONS, { message: 'decision must be allow or deny' })
  decision: ApprovalDecisionValue;

  /** Told to the model with a denial (and recorded with either decision): at most 10,000 characters. */
  @IsOptional() @IsString() @MultiLineText() @MaxLength(10_000)
  message?: string;
}
