// SPDX-License-Identifier: MIT
// Test only: an ERC-20 whose transfer calls back into the rewards contract (as an ERC-777
// hook would), trying to claim a second time inside the first claim's payout.
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface IRewards {
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        returns (uint256);
}

contract ReentrantToken is ERC20 {
    IRewards public target;
    address public victim;
    uint256 public cumulative;
    bytes32[] public proof;
    uint256 public attempts;
    bool public reentered;
    bytes public lastError;

    constructor() ERC20("Reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(IRewards target_, address victim_, uint256 cumulative_, bytes32[] calldata proof_)
        external
    {
        target = target_;
        victim = victim_;
        cumulative = cumulative_;
        proof = proof_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (address(target) != address(0) && from == address(target) && attempts == 0) {
            attempts = 1;
            try target.claim(victim, cumulative, proof) {
                reentered = true;
            } catch (bytes memory reason) {
                lastError = reason;
            }
        }
    }
}
