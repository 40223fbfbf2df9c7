import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentUser, type AuthUser } from '../auth/auth.decorators.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { ApprovalsService } from './approvals.service.js';
import { DecideApprovalDto } from './dto/decide-approval.dto.js';
import type { RunView } from './run.view.js';

const uuid = new ParseUUIDPipe({ version: 'all' });

@ApiTags('Runs')
@Controller('api/v1/runs')
export class RunApprovalsController {
  constructor(private readonly approvals: ApprovalsService) {}

  /**
   * Decide a tool call waiting for approval
   *
   * @remarks A run of a profile with `approvals` stops before each call of a gated tool until it is decided (its `pendingApproval`, and an `approval_requested` event). `allow` lets the call run; `deny` refuses it and the model is told `message`. The owner of the run or an admin decides; the agent goes on at once, on whichever node runs it. A call already decided, past its `expiresAt` (the profile's `onTimeout` applied) or of a run no longer running answers 409 `approval_closed`.
   */
  @Post(':id/approvals/:approvalId')
  @HttpCode(200)
  @ApiProblems(...BODY_PROBLEMS, 'run_not_found', 'approval_not_found', 'approval_closed')
  decide(
    @CurrentUser() user: AuthUser,
    @Param('id', uuid) id: string,
    @Param('approvalId', uuid) approvalId: string,
    @Body() body: DecideApprovalDto,
  ): Promise<RunView> {
    return this.approvals.decide(user, id, approvalId, body);
  }
}
